// The raw tool doing ragops' S3 backup job, as an operator types it:
// `pg_dump -Fc <db> | aws s3 cp - s3://<bucket>/<key>` with the AWS CLI v1 from PyPI
// (.venv/bin/aws, scripts/setup.sh) at its default transfer settings (8 MB parts, 10 in
// flight), against an S3-compatible endpoint. Only the credentials, region and endpoint
// reach it: no ~/.aws files, no instance metadata lookups.
import { fileURLToPath } from 'node:url';
import { timePipeline } from './commandPipeline.js';
import { connectionArgs } from './pgCommands.js';
import type { RawDumpResult } from './rawDumps.js';

const AWS_CLI = fileURLToPath(new URL('../../.venv/bin/aws', import.meta.url));

export interface S3Target {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
}

/** `pg_dump -Fc <db> | aws s3 cp - s3://bucket/key`; `size` reads back the stored object's size. */
export async function pgDumpToS3(database: string, target: S3Target, key: string, size: (key: string) => Promise<number>): Promise<RawDumpResult> {
  const ms = await timePipeline(
    { argv: ['pg_dump', '-Fc', ...connectionArgs, `--dbname=${database}`] },
    { argv: [AWS_CLI, 's3', 'cp', '--endpoint-url', target.endpoint, '-', `s3://${target.bucket}/${key}`], env: awsEnvironment(target) },
  );
  return { ms, bytes: await size(key) };
}

function awsEnvironment(target: S3Target): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    AWS_ACCESS_KEY_ID: target.accessKeyId,
    AWS_SECRET_ACCESS_KEY: target.secretAccessKey,
    AWS_DEFAULT_REGION: target.region,
    AWS_CONFIG_FILE: '/nonexistent/ragops-bench/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/ragops-bench/aws-credentials',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}
