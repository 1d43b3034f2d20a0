/*
 * Where a JSON text first breaks the grammar, for the messages of a file that JSON.parse refused
 * without saying where (V8 gives no position for an unexpected token, such as a misspelt `true`
 * or a trailing comma in a list, nor for an unexpected end). Run only on a text JSON.parse
 * refused, so it is written for plainness, not speed.
 */

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);
const ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const HEX4 = /[0-9a-fA-F]{4}/y;

/** The offset of the first character that breaks JSON's grammar; undefined when `text` is JSON. */
export function firstSyntaxError(text: string): number | undefined {
  let at = 0;
  const skipSpace = (): void => {
    while (at < text.length && WHITESPACE.has(text[at] as string)) at++;
  };
  const string = (): boolean => {
    at++;
    while (at < text.length) {
      const c = text[at] as string;
      if (c === '"') {
        at++;
        return true;
      }
      if (c < ' ') return false;
      if (c === '\\') {
        const escape = text[at + 1] ?? '';
        if (escape === 'u') {
          HEX4.lastIndex = at + 2;
          if (!HEX4.test(text)) return false;
          at += 6;
        } else if (ESCAPES.has(escape)) at += 2;
        else return false;
      } else at++;
    }
    return false;
  };
  const members = (close: string, member: () => boolean): boolean => {
    at++;
    skipSpace();
    if (text[at] === close) {
      at++;
      return true;
    }
    for (;;) {
      if (!member()) return false;
      skipSpace();
      if (text[at] === close) {
        at++;
        return true;
      }
      if (text[at] !== ',') return false;
      at++;
      skipSpace();
    }
  };
  const value = (): boolean => {
    skipSpace();
    const c = text[at];
    if (c === '{')
      return members('}', () => {
        if (text[at] !== '"' || !string()) return false;
        skipSpace();
        if (text[at] !== ':') return false;
        at++;
        return value();
      });
    if (c === '[') return members(']', value);
    if (c === '"') return string();
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, at)) {
        at += word.length;
        return true;
      }
    }
    NUMBER.lastIndex = at;
    const number = NUMBER.exec(text);
    if (!number) return false;
    at += number[0].length;
    return true;
  };
  if (!value()) return at;
  skipSpace();
  return at < text.length ? at : undefined;
}
