import { createTestDatabase } from './helpers/db.js';

describe('test harness', () => {
  it('gives each test a fresh, empty database on a real server', async () => {
    const db = await createTestDatabase();
    try {
      const rows = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'",
      );
      expect(rows[0]?.n).toBe(0);
      const [{ current_database }] = (await db.query<{ current_database: string }>(
        'SELECT current_database()',
      )) as [{ current_database: string }];
      expect(current_database).toBe(db.name);
    } finally {
      await db.drop();
    }
  });
});
