export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function mibPerSecond(bytes: number, durationMs: number): number {
  return Number((bytes / 1048576 / Math.max(durationMs / 1000, 0.001)).toFixed(1));
}

/** A compact UTC time for keys and ids that sort by time: 20261124T051500Z. */
export function compactStamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** "api:1.4 (api@sha256:…)": the tag people know and the digest it was, once each. */
export function versionLabel(version: { image: string | null; pinned: string | null }): string {
  if (!version.image) return version.pinned ?? 'nothing';
  return version.pinned && version.pinned !== version.image ? `${version.image} (${version.pinned})` : version.image;
}
