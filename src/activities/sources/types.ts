/** One row of a re-ingestion source: its key (point ids derive from it), the text to embed, the payload to keep. */
export interface SourceRow {
  /** PostgreSQL: the key column as text (exact for every type); S3: the JSON field as written (string or integer). */
  key: string | number;
  text: string;
  payload: Record<string, unknown>;
}
