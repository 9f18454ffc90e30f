/** A minimal HTTP(S) GET for health and readiness endpoints (TCP with client TLS, or a unix socket). */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** GET a URL; resolves with the status and body (never rejects on HTTP errors). */
export function httpGet(
  url: string,
  tls?: { ca: Buffer; cert: Buffer; key: Buffer },
  socketPath?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = (url.startsWith('https:') ? httpsRequest : httpRequest)(
      url,
      { timeout: 5000, ...(tls && { ...tls }), ...(socketPath && { socketPath }) },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}
