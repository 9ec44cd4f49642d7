// One loopback port that speaks both plain HTTP (for tests' raw fetch) and HTTPS (for kubectl:
// client-go only sends a kubeconfig's credentials, bearer tokens included, over TLS). The first
// byte of a connection tells them apart: a TLS handshake starts with 0x16. The certificate is a
// throwaway self-signed one for 127.0.0.1, made once per process with the openssl CLI.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type RequestListener } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface Certificate {
  cert: string;
  key: string;
}

let certificate: Promise<Certificate> | undefined;

/** A self-signed certificate for IP 127.0.0.1 and localhost (it is its own CA). */
export function selfSignedCertificate(): Promise<Certificate> {
  return (certificate ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kube-standin-cert-'));
    try {
      const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
      await promisify(execFile)('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', key, '-out', cert, '-days', '30', '-subj', '/CN=kube-standin',
        '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ]);
      return { key: await readFile(key, 'utf8'), cert: await readFile(cert, 'utf8') };
    } catch (error) {
      certificate = undefined;
      throw new Error(`the Kubernetes stand-in could not make its TLS certificate with openssl: ${(error as Error).message}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })());
}

export interface DualListener {
  port: number;
  close(): Promise<void>;
}

export async function listenHttpAndHttps(handler: RequestListener, tls: Certificate): Promise<DualListener> {
  const http = createHttpServer(handler);
  const https = createHttpsServer({ key: tls.key, cert: tls.cert }, handler);
  const sockets = new Set<Socket>();
  const front = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy()); // a client hanging up mid-request is not our failure
    socket.on('close', () => sockets.delete(socket));
    socket.once('data', (first) => {
      socket.pause();
      socket.unshift(first);
      (first[0] === 0x16 ? https : http).emit('connection', socket);
      process.nextTick(() => socket.resume());
    });
  });
  front.listen(0, '127.0.0.1');
  await once(front, 'listening');
  return {
    port: (front.address() as AddressInfo).port,
    close: async () => {
      const closed = new Promise<void>((resolve) => front.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      http.closeAllConnections();
      https.closeAllConnections();
      await closed;
    },
  };
}
