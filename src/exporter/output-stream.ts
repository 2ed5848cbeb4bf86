/**
 * Where tarball exports go besides files: `dest=-` writes the archive to a stream the caller
 * hands in (the CLI passes its stdout; the core never touches process.stdout), and every archive
 * we write ends on a whole tar record.
 */
import { once } from 'node:events';
import { TsbuildError } from '../errors/index.js';
import type { ResolvedExporter } from './options.js';

/** A writable the caller owns: written to, never ended (it may be process.stdout). */
export type OutputSink = NodeJS.WritableStream & { isTTY?: boolean };

/** The tar record size GNU tar reads and writes (blocking factor 20 x 512). */
const RECORD = 20 * 512;

/**
 * Pads an archive with zero bytes to a multiple of 10240, as GNU tar, bsdtar and Python's tarfile
 * do. The end-of-archive marker (two zero blocks) is already there; the padding is more zeros.
 * Why: `tar --delete` works record by record and, on an archive that ends inside a record, drops
 * or garbles the entries after the deleted one (Go's archive/tar output, e.g. skopeo's
 * docker-archive, has the same problem).
 */
export async function* padToRecord(source: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  let size = 0;
  for await (const chunk of source) {
    size += chunk.length;
    yield chunk;
  }
  const rest = (RECORD - (size % RECORD)) % RECORD;
  if (rest > 0) yield Buffer.alloc(rest);
}

/** Writes a stream to the sink with backpressure, leaving the sink open. */
export async function writeToSink(source: AsyncIterable<Uint8Array>, sink: OutputSink, signal: AbortSignal): Promise<void> {
  let failed: Error | undefined;
  const onError = (err: Error) => void (failed ??= err);
  sink.on('error', onError);
  try {
    for await (const chunk of source) {
      signal.throwIfAborted();
      if (failed) throw failed;
      if (!sink.write(chunk)) await once(sink, 'drain', { signal });
    }
    // Resolves once everything queued before it has been handed to the OS.
    await new Promise<void>((resolve, reject) => sink.write('', (err) => (err ? reject(err) : resolve())));
    if (failed) throw failed;
  } catch (err) {
    // `tsbuild build -o type=oci,dest=- . | head`: the reader left; say so instead of an internal EPIPE.
    const code = ((failed ?? err) as NodeJS.ErrnoException).code;
    if (code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED') {
      throw new TsbuildError('ERR_TSBUILD_EXPORT_STDOUT_CLOSED', 'stdout was closed before the whole tarball was written', { cause: failed ?? err });
    }
    throw err;
  } finally {
    sink.off('error', onError);
    // A dead stream may report more errors; they must not crash the process that is reporting this one.
    if (failed) sink.on('error', () => {});
  }
}

/**
 * Checks `dest=-` before the build starts: at most one output may take the stream, there must be
 * one, and it may not be a terminal (a tarball on a terminal is noise; buildx refuses it too).
 */
export function checkStdoutOutputs(exporters: ResolvedExporter[], sink: OutputSink | undefined): void {
  const toStdout = exporters.filter((e) => e.dest === '-');
  if (toStdout.length === 0) return;
  if (toStdout.length > 1) throw new TsbuildError('ERR_TSBUILD_EXPORT_OPTIONS', 'only one output can be written to stdout (dest=-)');
  if (!sink) throw new TsbuildError('ERR_TSBUILD_EXPORT_OPTIONS', `type=${toStdout[0]!.type},dest=- needs an output stream, and none was given`);
  if (sink.isTTY) {
    throw new TsbuildError('ERR_TSBUILD_EXPORT_STDOUT_TTY', `refusing to write the type=${toStdout[0]!.type} tarball to a terminal (dest=-)`);
  }
}
