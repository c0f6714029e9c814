/** Structured logs: one JSON object per line. */
export type Log = (line: Record<string, unknown>) => void;
