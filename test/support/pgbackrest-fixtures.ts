// Output of Debian's pgBackRest 2.45, captured from runs against a cluster of the test's own
// (test/support/pgbackrest.ts), for the parsers' unit tests.

// `pgbackrest info --output=json` exactly as printed for stanza "explore": an encrypted posix
// repository, then `backup --type=diff` with no full backup yet (pgBackRest made it full:
// "WARN: no prior backup exists, diff backup has been changed to full" on stderr), an incr,
// and a diff. system-id exceeds 2^53, so JSON.parse rounds it; ragops does not read it.
export const PGBACKREST_2_45_INFO_JSON = `[{"archive":[{"database":{"id":1,"repo-key":1},"id":"15-1","max":"000000010000000000000008","min":"000000010000000000000001"}],"backup":[{"archive":{"start":"000000010000000000000003","stop":"000000010000000000000003"},"backrest":{"format":5,"version":"2.45"},"database":{"id":1,"repo-key":1},"error":false,"info":{"delta":23291391,"repository":{"delta":3091488,"size":3091488},"size":23291391},"label":"20261206-140143F","lsn":{"start":"0/3000028","stop":"0/3000100"},"prior":null,"reference":null,"timestamp":{"start":1796565703,"stop":1796565705},"type":"full"},{"archive":{"start":"000000010000000000000005","stop":"000000010000000000000005"},"backrest":{"format":5,"version":"2.45"},"database":{"id":1,"repo-key":1},"error":false,"info":{"delta":82186,"repository":{"delta":4208,"size":3093168},"size":23324159},"label":"20261206-140143F_20261206-140145I","lsn":{"start":"0/5000028","stop":"0/5000100"},"prior":"20261206-140143F","reference":["20261206-140143F"],"timestamp":{"start":1796565705,"stop":1796565707},"type":"incr"},{"archive":{"start":"000000010000000000000007","stop":"000000010000000000000008"},"backrest":{"format":5,"version":"2.45"},"database":{"id":1,"repo-key":1},"error":false,"info":{"delta":82186,"repository":{"delta":5760,"size":3094720},"size":23324159},"label":"20261206-140143F_20261206-140148D","lsn":{"start":"0/7000028","stop":"0/8000050"},"prior":"20261206-140143F","reference":["20261206-140143F"],"timestamp":{"start":1796565708,"stop":1796565710},"type":"diff"}],"cipher":"aes-256-cbc","db":[{"id":1,"repo-key":1,"system-id":7716190930625089441,"version":"15"}],"name":"explore","repo":[{"cipher":"aes-256-cbc","key":1,"status":{"code":0,"message":"ok"}}],"status":{"code":0,"lock":{"backup":{"held":false}},"message":"ok"}}]`;

/** Stanza "app" after stanza-create and check, before any backup: WAL archived, no backup. */
export const PGBACKREST_2_45_INFO_NO_BACKUP_JSON = `[{"archive":[{"database":{"id":1,"repo-key":1},"id":"15-1","max":"000000010000000000000001","min":"000000010000000000000001"}],"backup":[],"cipher":"aes-256-cbc","db":[{"id":1,"repo-key":1,"system-id":7716191357500817526,"version":"15"}],"name":"app","repo":[{"cipher":"aes-256-cbc","key":1,"status":{"code":2,"message":"no valid backups"}}],"status":{"code":2,"lock":{"backup":{"held":false}},"message":"no valid backups"}}]`;

/** A stanza nobody created: pgBackRest exits 0 and says so in the status. */
export const PGBACKREST_2_45_INFO_MISSING_STANZA_JSON = `[{"archive":[],"backup":[],"cipher":"aes-256-cbc","db":[],"name":"other","repo":[{"cipher":"aes-256-cbc","key":1,"status":{"code":1,"message":"missing stanza path"}}],"status":{"code":1,"lock":{"backup":{"held":false}},"message":"missing stanza path"}}]`;

/**
 * `verify --output=text --verbose --log-level-console=off --log-level-stderr=info` (2.45), exit
 * code 0, after a byte of one file of the full backup was flipped.
 */
export const PGBACKREST_2_45_VERIFY_CORRUPTED = {
  stdout: `stanza: explore
status: error
  archiveId: 15-1, total WAL checked: 1, total valid WAL: 1
    missing: 0, checksum invalid: 0, size invalid: 0, other: 0
  backup: 20261206-140507F, status: invalid, total files checked: 964, total valid files: 963
    missing: 0, checksum invalid: 1, size invalid: 0, other: 0
`,
  stderr: `INFO: verify command begin 2.45: --config=/tmp/ragops-pgbackrest-QQ3UHo/pgbackrest.conf --exec-id=1351-978348f8 --log-level-console=off --log-level-file=off --log-level-stderr=info --output=text --repo1-cipher-pass=<redacted> --repo1-cipher-type=aes-256-cbc --repo1-path=/tmp/ragops-pgbackrest-repo-Ze7SOv --repo1-type=posix --stanza=explore --verbose
INFO: invalid checksum '20261206-140507F/pg_data/base/5/2602.gz'
INFO: stanza: explore
      status: error
        archiveId: 15-1, total WAL checked: 1, total valid WAL: 1
          missing: 0, checksum invalid: 0, size invalid: 0, other: 0
        backup: 20261206-140507F, status: invalid, total files checked: 964, total valid files: 963
          missing: 0, checksum invalid: 1, size invalid: 0, other: 0
INFO: verify command end: completed successfully (258ms)
`,
};

/** The same (without the log levels) on a repository with no stanza files: exit code 0 too. */
export const PGBACKREST_2_45_VERIFY_NO_STANZA = `stanza: x
status: error
  No usable backup.info file
  No usable archive.info file
`;
