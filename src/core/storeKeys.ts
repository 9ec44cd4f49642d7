/** 20261124T051500Z-1a2b3c4d: a backup's start (UTC, to the second) and its run tag. */
export const backupIdPattern = /^[0-9]{8}T[0-9]{6}Z-[a-z0-9]{8}$/;

/** The store layout: every key of a backup set derives from its stack and backup id. */
export const backupKeys = {
  prefix: (stack: string, id: string) => `${stack}/${id}/`,
  manifest: (stack: string, id: string) => `${stack}/${id}/manifest.json`,
  verificationsPrefix: (stack: string, id: string) => `${stack}/${id}/verifications/`,
  /**
   * Unique per drill: its start to the millisecond plus its run tag, and its depth. Older
   * evidence has `<stamp to the second>-<depth>.json`; readers take the newest by the
   * recorded finishedAt, never by key order.
   */
  verification: (stack: string, id: string, startedAt: Date, runTag: string, depth: 'checksum' | 'restore') =>
    `${stack}/${id}/verifications/${startedAt.toISOString().replace(/[-:]/g, '')}-${runTag}-${depth}.json`,
  /** A disaster recovery's (or DR drill's) evidence, beside the backup it restored. */
  drEvidence: (stack: string, id: string, startedAt: Date, runTag: string, mode: string) => `${stack}/${id}/dr/${startedAt.toISOString().replace(/[-:]/g, '')}-${runTag}-${mode}.json`,
  locksPrefix: (stack: string, id: string) => `${stack}/${id}/locks/`,
  lock: (stack: string, id: string, workflowId: string) =>
    `${stack}/${id}/locks/${workflowId.replace(/[^A-Za-z0-9._-]/g, '_')}.json`,
  postgresDump: (stack: string, id: string, label: string) => `${stack}/${id}/postgres/${label}.dump`,
  qdrantSnapshot: (stack: string, id: string, collection: string) => `${stack}/${id}/qdrant/${collection}.snapshot`,
  redisRdb: (stack: string, id: string, label: string) => `${stack}/${id}/redis/${label}.rdb`,
  execDump: (stack: string, id: string, label: string, extension: string) => `${stack}/${id}/exec/${label}${extension}`,
  /** A mirror's entry list (its artifact) and the prefix of the objects this backup copied. */
  mirrorEntries: (stack: string, id: string, label: string) => `${stack}/${id}/mirror/${label}.entries.json`,
  mirrorObjectsPrefix: (stack: string, id: string, label: string) => `${stack}/${id}/mirror/${label}/objects/`,
};

/** Keys of mirrored objects: only retention's mirror-aware delete removes them (a later backup may reference them). */
export const isMirrorObjectKey = (key: string) => /^[^/]+\/[^/]+\/mirror\/[^/]+\/objects\//.test(key);
