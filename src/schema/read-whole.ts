import {
  close as closeCallback,
  fstat as fstatCallback,
  open as openCallback,
  read as readCallback,
  readFile as readFileCallback,
} from 'node:fs';
import { promisify } from 'node:util';

// Node's callback API, promisified: node:fs/promises would load its own modules (readline among
// them) on every start for this one read. Nothing else is imported here: verify and status start
// this read first of all, before the connection's modules load (see cli/main.ts).
const readFile = promisify(readFileCallback);
const open = promisify(openCallback);
const fstat = promisify(fstatCallback);
const read = promisify(readCallback);
const close = promisify(closeCallback);

/**
 * A file's bytes, in as few trips to the thread pool as it takes: an open, a stat, one read of the
 * whole size, a close. fs.readFile reads 512 KiB per trip, and each trip's result waits for this
 * thread to be free: at start-up, while the session logs in, an 18 MB file came back tens of
 * milliseconds after the disk had it. A file that is not regular, or says it is empty (a pipe, a
 * file of /proc), is read by fs.readFile, to its end.
 */
export async function readWhole(path: string): Promise<Buffer> {
  const fd = await open(path, 'r');
  let bytes: Buffer | undefined;
  try {
    const stats = await fstat(fd);
    if (stats.isFile() && stats.size > 0) {
      bytes = Buffer.allocUnsafe(stats.size);
      let at = 0;
      while (at < bytes.length) {
        const { bytesRead } = await read(fd, bytes, at, bytes.length - at, at);
        if (bytesRead === 0) break;
        at += bytesRead;
      }
      // Shorter than its stat said (truncated meanwhile): what was there.
      if (at < bytes.length) bytes = bytes.subarray(0, at);
    }
  } finally {
    await close(fd).catch(() => undefined);
  }
  // Anything else by its path, with fs.readFile's own errors (a directory: EISDIR).
  return bytes ?? readFile(path);
}
