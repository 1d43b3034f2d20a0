/**
 * A strict JSON parser for seed files: the same grammar as JSON.parse, but every syntax error
 * comes with a stable message and an offset (V8's messages vary and sometimes have no position),
 * and a property given twice in one object is an error instead of silently keeping the last.
 */

/** Where and why a text is not JSON. */
export interface JsonSyntaxError {
  /** 0-based character offset of the offending character in the text. */
  readonly offset: number;
  readonly message: string;
}

/** The parsed value, or the first syntax error. */
export type JsonParseResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: JsonSyntaxError };

class JsonFailure extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const ESCAPE = /\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/y;

class Parser {
  private pos = 0;

  constructor(private readonly text: string) {}

  parseDocument(): unknown {
    const value = this.parseValue();
    this.skipSpace();
    if (this.pos < this.text.length)
      this.fail(`unexpected ${this.describe()} after the JSON value`);
    return value;
  }

  private parseValue(): unknown {
    this.skipSpace();
    const ch = this.text[this.pos];
    if (ch === '{') return this.parseObject();
    if (ch === '[') return this.parseArray();
    if (ch === '"') return this.parseString();
    if (ch === '-' || (ch !== undefined && ch >= '0' && ch <= '9')) return this.parseNumber();
    for (const [word, value] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return value;
      }
    }
    return this.fail(`expected a value, found ${this.describe()}`);
  }

  private parseObject(): Record<string, unknown> {
    const entries = new Map<string, unknown>();
    this.pos += 1;
    this.skipSpace();
    if (this.eat('}')) return Object.fromEntries(entries);
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] !== '"')
        this.fail(`expected a property name in double quotes, found ${this.describe()}`);
      const at = this.pos;
      const name = this.parseString();
      if (entries.has(name)) this.fail(`property ${JSON.stringify(name)} is given twice`, at);
      this.skipSpace();
      if (!this.eat(':'))
        this.fail(
          `expected ':' after property name ${JSON.stringify(name)}, found ${this.describe()}`,
        );
      entries.set(name, this.parseValue());
      this.skipSpace();
      if (this.eat('}')) return Object.fromEntries(entries);
      if (!this.eat(','))
        this.fail(`expected ',' or '}' after a property value, found ${this.describe()}`);
      this.skipSpace();
      if (this.text[this.pos] === '}') this.fail("trailing comma before '}'");
    }
  }

  private parseArray(): unknown[] {
    const items: unknown[] = [];
    this.pos += 1;
    this.skipSpace();
    if (this.eat(']')) return items;
    for (;;) {
      items.push(this.parseValue());
      this.skipSpace();
      if (this.eat(']')) return items;
      if (!this.eat(','))
        this.fail(`expected ',' or ']' after an array element, found ${this.describe()}`);
      this.skipSpace();
      if (this.text[this.pos] === ']') this.fail("trailing comma before ']'");
    }
  }

  private parseString(): string {
    const start = this.pos;
    this.pos += 1;
    for (;;) {
      const ch = this.text[this.pos];
      if (ch === undefined) this.fail('unterminated string', start);
      if (ch === '"') break;
      if (ch === '\\') {
        ESCAPE.lastIndex = this.pos;
        if (!ESCAPE.test(this.text)) this.fail('invalid escape sequence in a string');
        this.pos = ESCAPE.lastIndex;
        continue;
      }
      if (ch < ' ') this.fail('control character in a string: write it as an escape such as \\n');
      this.pos += 1;
    }
    this.pos += 1;
    // The token is valid JSON by now, so the built-in decoder cannot fail.
    return JSON.parse(this.text.slice(start, this.pos)) as string;
  }

  private parseNumber(): number {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    const next = match ? this.text[this.pos + match[0].length] : undefined;
    if (!match || (next !== undefined && /[0-9A-Za-z.+-]/.test(next))) this.fail('invalid number');
    this.pos += match[0].length;
    return Number(match[0]);
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && ' \t\n\r'.includes(this.text[this.pos] as string)) {
      this.pos += 1;
    }
  }

  private eat(ch: string): boolean {
    if (this.text[this.pos] !== ch) return false;
    this.pos += 1;
    return true;
  }

  private describe(): string {
    const ch = this.text[this.pos];
    return ch === undefined ? 'the end of the file' : JSON.stringify(ch);
  }

  private fail(message: string, offset = this.pos): never {
    throw new JsonFailure(offset, message);
  }
}

/** Parses JSON text strictly; never throws for bad input, returns the first error instead. */
export function parseJsonText(text: string): JsonParseResult {
  try {
    return { ok: true, value: new Parser(text).parseDocument() };
  } catch (error) {
    if (error instanceof JsonFailure) {
      return { ok: false, error: { offset: error.offset, message: error.message } };
    }
    throw error;
  }
}
