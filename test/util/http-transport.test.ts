/**
 * The node:http transport behind the registry client and ADD <url> follows redirects as fetch
 * does and sends streamed bodies, against real HTTP servers in this process.
 */
import test from 'ava';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { transport } from '../../src/util/http-transport.js';

interface Seen {
  method: string;
  url: string;
  authorization?: string;
  body: string;
}

async function serve(t: import('ava').ExecutionContext, handle: (req: IncomingMessage, body: string, res: import('node:http').ServerResponse) => void): Promise<{ origin: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}), body });
      handle(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => void server.close());
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

test('redirects: followed with the Authorization header only within the origin; 303 turns a POST into a GET', async (t) => {
  const other = await serve(t, (_req, _body, res) => res.end('elsewhere'));
  const first = await serve(t, (req, _body, res) => {
    if (req.url === '/same') return void res.writeHead(307, { location: '/final' }).end();
    if (req.url === '/cross') return void res.writeHead(302, { location: `${other.origin}/blob` }).end();
    if (req.url === '/post') return void res.writeHead(303, { location: '/final' }).end();
    res.end(`final ${req.method}`);
  });
  const auth = { authorization: 'Bearer secret' };

  t.is(await (await transport(`${first.origin}/same`, { headers: auth })).text(), 'final GET');
  t.is(first.seen.find((s) => s.url === '/final')?.authorization, 'Bearer secret');

  t.is(await (await transport(`${first.origin}/cross`, { headers: auth })).text(), 'elsewhere');
  t.is(other.seen[0]?.authorization, undefined, 'credentials never follow a redirect to another origin');

  const posted = await transport(`${first.origin}/post`, { method: 'POST', body: 'form=1', headers: { 'content-type': 'text/plain' } });
  t.is(await posted.text(), 'final GET');
  t.deepEqual(first.seen.filter((s) => s.url === '/post').map((s) => s.body), ['form=1']);

  const manual = await transport(`${first.origin}/same`, { redirect: 'manual' });
  t.is(manual.status, 307);
  t.is(manual.headers.get('location'), '/final');
});

test('streamed bodies are sent whole; a 307 for one is an error, not a silent empty re-send', async (t) => {
  const srv = await serve(t, (req, body, res) => {
    if (req.url === '/again') return void res.writeHead(307, { location: '/upload' }).end();
    res.end(`got ${body.length}`);
  });
  const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(64 * 1024, i));
  const res = await transport(`${srv.origin}/upload`, { method: 'PATCH', body: Readable.from(chunks) });
  t.is(await res.text(), `got ${64 * 64 * 1024}`);
  const err = await t.throwsAsync(transport(`${srv.origin}/again`, { method: 'PUT', body: Readable.from(chunks) }));
  t.regex(String((err as Error & { cause?: Error }).cause?.message), /streamed body/);
});
