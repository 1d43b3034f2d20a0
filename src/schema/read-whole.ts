import type { Hash } from 'node:crypto';
import {
  close as closeCallback,
  closeSync,
  fstat as fstatCallback,
  fstatSync,
  open as openCallback,
  openSync,
  read as readCallback,
  readFile as readFileCallback,
  readFileSync,
  readSync,
} from 'node:fs';
import { promisify } from 'node:util';
import type { Window } from './table-slices.js';

// Node's callback API, promisified: node:fs/promises would load its own modules (readline among
// them) on every start for this one read. Nothing else is imported here (but types): verify and
// status start this read first of all, before the connection's modules load (see cli/main.ts).
const readFile = promisify(readFileCallback);
const open = promisify(openCallback);
const fstat = promisify(fstatCallback);
const read = promisify(readCallback);
const close = promisify(closeCallback);

/**
 * The start of a file's read: its bytes, or, for a large regular file, its size and first bytes
 * only. A large file is then read a window at a time through one buffer (FileWindow), never held
 * whole unless it must be parsed whole: every page of a fresh buffer of megabytes is a page fault
 * (4,400 for 18 MB; 60 to 70 ms of a process where a fault costs 15 µs, against 7 ms through a
 * reused buffer of 1 MiB).
 */
export type FileStart =
  | { readonly bytes: Buffer; readonly size?: undefined; readonly head?: undefined }
  | { readonly bytes?: undefined; readonly size: number; readonly head: Buffer };

/** The first bytes of a large file read at its start (an expected-schema file's hints are there). */
export const HEAD_BYTES = 64 * 1024;

/** Files up to this size are read whole (no window of a buffer to reuse would be smaller). */
export const WHOLE_UP_TO = 1024 * 1024;

/**
 * The start of a file's read (see FileStart), in as few trips to the thread pool as it takes: an
 * open, a stat, one read of the whole size (or of the first `headBytes`), a close. fs.readFile
 * reads 512 KiB per trip, and each trip's result waits for this thread to be free: at start-up,
 * while the session logs in, an 18 MB file came back tens of milliseconds after the disk had it. A
 * file that is not regular, or says it is empty (a pipe, a file of /proc), is read by fs.readFile,
 * to its end.
 */
export async function readStart(
  path: string,
  headBytes: number,
  wholeUpTo = WHOLE_UP_TO,
): Promise<FileStart> {
  const fd = await open(path, 'r');
  let start: FileStart | undefined;
  try {
    const stats = await fstat(fd);
    if (stats.isFile() && stats.size > 0) {
      const whole = stats.size <= wholeUpTo;
      const first = whole ? stats.size : Math.min(headBytes, stats.size);
      const bytes = await readFrom(fd, Buffer.allocUnsafe(first));
      start = whole ? { bytes } : { size: stats.size, head: bytes };
    }
  } finally {
    await close(fd).catch(() => undefined);
  }
  // Anything else by its path, with fs.readFile's own errors (a directory: EISDIR).
  return start ?? { bytes: await readFile(path) };
}

/** readStart on this thread, at once. */
export function readStartSync(path: string, headBytes: number, wholeUpTo = WHOLE_UP_TO): FileStart {
  const fd = openSync(path, 'r');
  let start: FileStart | undefined;
  try {
    const stats = fstatSync(fd);
    if (stats.isFile() && stats.size > 0 && stats.size > wholeUpTo) {
      const head = readFromSync(fd, Buffer.allocUnsafe(Math.min(headBytes, stats.size)));
      start = { size: stats.size, head };
    }
  } finally {
    closeSync(fd);
  }
  return start ?? { bytes: readFileSync(path) };
}

/** Fills `bytes` from the file's start (less when the file is shorter: what was there). */
async function readFrom(fd: number, bytes: Buffer): Promise<Buffer> {
  let at = 0;
  while (at < bytes.length) {
    const { bytesRead } = await read(fd, bytes, at, bytes.length - at, at);
    if (bytesRead === 0) break;
    at += bytesRead;
  }
  return at < bytes.length ? bytes.subarray(0, at) : bytes;
}

/**
 * Up to `length` bytes of the file at `path` from `offset` on (fewer at its end, none past it),
 * on this thread.
 */
export function readAtSync(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    return readFromSync(fd, Buffer.allocUnsafe(length), offset);
  } finally {
    closeSync(fd);
  }
}

/** readFrom on this thread (from `offset` in the file). */
function readFromSync(fd: number, bytes: Buffer, offset = 0): Buffer {
  let at = 0;
  while (at < bytes.length) {
    const bytesRead = readSync(fd, bytes, at, bytes.length - at, offset + at);
    if (bytesRead === 0) break;
    at += bytesRead;
  }
  return at < bytes.length ? bytes.subarray(0, at) : bytes;
}

/**
 * A file read from its start, a window at a time, through `buffer` (a larger one of its own when a
 * window must keep all it holds), every byte fed to `hash` (when given) once as it is read. Opened
 * by path, on this thread; close() when done (it is closed at the end of the file too).
 */
export class FileWindow implements Window {
  bytes: Buffer;
  length = 0;
  base = 0;
  eof = false;
  private buffer: Buffer;
  private fd: number | undefined;
  private position = 0;

  constructor(
    path: string,
    buffer: Buffer,
    private readonly hash: Hash | undefined,
  ) {
    this.fd = openSync(path, 'r');
    this.buffer = buffer;
    this.bytes = this.buffer;
    try {
      this.fill();
    } catch (error) {
      this.close();
      throw error;
    }
  }

  more(keep: number): void {
    const rest = this.length - keep;
    if (rest === this.buffer.length) {
      const larger = Buffer.allocUnsafe(this.buffer.length * 2);
      this.buffer.copy(larger, 0, keep, this.length);
      this.buffer = larger;
    } else {
      this.buffer.copy(this.buffer, 0, keep, this.length);
    }
    this.base += keep;
    this.length = rest;
    this.bytes = this.buffer;
    this.fill();
  }

  take(from: number, to: number): Buffer {
    return Buffer.from(this.bytes.subarray(from, to));
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    closeSync(fd);
  }

  /** Reads behind `length` until the buffer is full or the file ends. */
  private fill(): void {
    if (this.eof || this.fd === undefined) return;
    while (this.length < this.buffer.length) {
      const bytesRead = readSync(
        this.fd,
        this.buffer,
        this.length,
        this.buffer.length - this.length,
        this.position,
      );
      if (bytesRead === 0) {
        this.eof = true;
        // Reads past the end find nothing, as in a whole file's bytes.
        this.bytes = this.buffer.subarray(0, this.length);
        this.close();
        return;
      }
      this.hash?.update(this.buffer.subarray(this.length, this.length + bytesRead));
      this.length += bytesRead;
      this.position += bytesRead;
    }
  }
}
