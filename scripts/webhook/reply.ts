// What the webhook answers a request with, and how it logs it (never bodies, headers or keys).

export type LogFields = Record<string, string | number | boolean | undefined>;
export type WebhookLogger = (level: 'info' | 'warn' | 'error', msg: string, fields: LogFields) => void;

/** One JSON object a line on stdout. Callers pass only non-secret fields (never bodies, headers or keys). */
export const jsonLogger: WebhookLogger = (level, msg, fields) => {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
};

export interface Reply {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
  fields?: LogFields;
}
