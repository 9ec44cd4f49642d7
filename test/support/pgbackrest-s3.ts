// An S3 endpoint pgBackRest can use: moto behind HAProxy terminating TLS with a self-signed
// certificate. pgBackRest speaks S3 over TLS only, and moto's own `--ssl` (werkzeug's) does
// not do: pgBackRest 2.45's PUTs there fail with "TLS error [1:167772454] unexpected eof while
// reading" (moto answers 200 with `Connection: close`), reads work, and stanza-create retries
// until its 60 s io-timeout. Behind HAProxy every command works.
import { execa } from 'execa';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findFreePort } from '../../src/client/dev/devserver.js';
import { haproxyBinary } from './haproxy.js';
import { startMoto, type TestMoto } from './moto.js';
import { superviseServer } from './server-process.js';

export interface TlsS3 {
  /** https://127.0.0.1:<port>, a self-signed certificate (verifyTls: false). */
  endpoint: string;
  moto: TestMoto;
  stop(): Promise<void>;
}

const answers = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

export async function startTlsS3(): Promise<TlsS3> {
  const moto = await startMoto();
  const dir = await mkdtemp(join(tmpdir(), 'ragops-s3-tls-'));
  try {
    await execa('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
    await execa('sh', ['-c', 'cat cert.pem key.pem > haproxy.pem'], { cwd: dir });
    const port = await findFreePort();
    const motoAddress = new URL(moto.endpoint).host;
    await writeFile(join(dir, 'haproxy.cfg'), [
      'defaults',
      '  mode http',
      '  timeout connect 5s',
      '  timeout client 60s',
      '  timeout server 60s',
      'frontend s3',
      `  bind 127.0.0.1:${port} ssl crt ${join(dir, 'haproxy.pem')}`,
      '  default_backend moto',
      'backend moto',
      `  server moto ${motoAddress}`,
      '',
    ].join('\n'));
    const server = superviseServer(execa(haproxyBinary(), ['-f', join(dir, 'haproxy.cfg'), '-db'], { stdin: 'ignore', buffer: false, reject: false, cleanup: true }), dir);
    const deadline = Date.now() + 10_000;
    while (!(await answers(port))) {
      if (server.exited() || Date.now() > deadline) {
        await server.stop();
        throw new Error(`haproxy in front of moto did not start:\n${server.output()}`);
      }
      await sleep(50);
    }
    return {
      endpoint: `https://127.0.0.1:${port}`,
      moto,
      async stop() {
        await server.stop();
        await moto.stop();
      },
    };
  } catch (error) {
    await moto.stop();
    throw error;
  }
}
