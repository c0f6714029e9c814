import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { requestId } from './index';

describe('requestId', () => {
  it("sets a UUID of ours as c.var.requestId and X-Request-Id, whatever the client's header says", async () => {
    const app = new Hono<{ Variables: { requestId: string } }>();
    app.use('*', requestId());
    app.get('/', (c) => c.text(c.get('requestId')));
    const res = await app.request('/', { headers: { 'X-Request-Id': 'client-chosen-id' } });
    const id = await res.text();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(res.headers.get('x-request-id')).toBe(id);
  });
});
