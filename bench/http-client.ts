// Benchmarks: a lean HTTP/1.1 client on one kept-alive connection, for timing the local platform from the
// process that runs it. Global fetch (undici: WHATWG streams, Headers objects) costs a few hundred
// microseconds of CPU per request, and its garbage is collected in the isolate that also runs the local
// HTTP API, on the same two cores; a tenant's client runs on another machine. So the turns are timed with
// this client, and what is left is the platform's own.
import { Agent, request } from 'node:http';

export interface BenchResponse {
  readonly status: number;
  readonly text: string;
}

export interface BenchClient {
  send(
    method: string,
    path: string,
    headers?: Readonly<Record<string, string>>,
    body?: string,
  ): Promise<BenchResponse>;
  close(): void;
}

/**
 * @example
 * const client = benchClient(platform.httpUrl);
 * const { status, text } = await client.send('GET', '/openapi.json');
 * client.close();
 */
export const benchClient = (baseUrl: string): BenchClient => {
  const { hostname, port } = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return {
    send: (method, path, headers = {}, body) =>
      new Promise((resolve, reject) => {
        const outgoing = request(
          {
            host: hostname,
            port,
            method,
            path,
            agent,
            headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
          },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('error', reject);
            response.on('end', () =>
              resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
            );
          },
        );
        outgoing.on('error', reject);
        outgoing.end(body);
      }),
    close: () => agent.destroy(),
  };
};
