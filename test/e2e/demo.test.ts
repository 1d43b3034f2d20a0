import { existsSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';

// `npm run demo` is the README's walk through the origin story: it must keep working.
describe('npm run demo', () => {
  it('shows the red audit (exit 8), the deploy (exit 0) and the green audit (exit 0), and cleans up', async () => {
    const demo = execa(process.execPath, ['scripts/demo.mjs'], { reject: false, all: true });
    const result = await demo;
    expect(result.exitCode).toBe(0);
    const output = String(result.all);
    expect(output).toContain('DATABASE IS OUT OF SYNC: DEPLOY STOPPED (exit 8)');
    expect(output).toContain('team_roles row name=Accountant is missing');
    expect(output).toContain('notification_templates row type=team_invitation is missing');
    expect(output).toContain(
      'trigger public.invoice_attachments.update_storage_on_attachment_insert is missing',
    );
    expect(output).toContain('RECOMMENDED FIXES:');
    expect(output.match(/DATABASE IS IN SYNC/g)?.length).toBeGreaterThanOrEqual(2);
    expect(output).toContain(
      'verify exited 8 (want 8), run exited 0 (want 0), verify exited 0 (want 0)',
    );
    expect(existsSync(path.resolve('.preflight', `demo-${demo.pid ?? 0}`))).toBe(false);
  }, 180_000);
});
