// Dosewise closure journey: an administrator closes a morning at a site with bookings in it. The
// first submit changes nothing and shows who moves where and who is cancelled (masked ID numbers
// only); confirming applies exactly that and says how many moved. Headless Chromium (Debian's),
// driven by playwright-core; nothing is downloaded.
//
// Usage: node tests/browser/moves.mjs BASE_URL SCREENSHOT_DIR ADMIN_USER ADMIN_PASSWORD SITE_ID DAY MOVED CANCELLED
// Prints one line per step and ends with `moves journey: N passed, N failed`; exit 1 on failure.

import { check, harness, login, submit } from './harness.mjs';

const h = harness({
  title: 'moves journey',
  usage: 'BASE_URL SCREENSHOT_DIR ADMIN_USER ADMIN_PASSWORD SITE_ID DAY MOVED CANCELLED',
  shots: 'moves-',
  timeoutMs: 90_000,
});
const [user, password, site, day, moved, cancelled] = h.args;

h.run(async () => {
  const { page, problems } = await h.open('admin', { viewport: { width: 1280, height: 900 }, locale: 'en-US' });
  const step = (name) => h.step('admin', name);

  step('login');
  await login(page, user, password);
  h.pass('logged in');

  step('preview');
  await page.goto(`/admin/sites/${site}#exceptions`);
  await page.fill('#exc-day', day);
  await page.check('#kind-closed');
  await page.fill('#exc-starts', '08:00');
  await page.fill('#exc-ends', '12:00');
  await page.fill('#exc-reason', 'Power cut');
  let res = await submit(page, 'Save exception');
  check(res.status() === 409, `the plan is shown first, got ${res.status()}`);
  const rows = page.locator('#move-plan tbody tr');
  const n = await rows.count();
  const moves = await page.locator('#move-plan tr.moves').count();
  const cancels = await page.locator('#move-plan tr.cancels').count();
  check(moves === Number(moved) && cancels === Number(cancelled), `plan: ${moves} moves, ${cancels} cancels of ${n}`);
  const plan = await page.textContent('#move-plan');
  check(!/\d{17}[\dX]/.test(plan), 'no full ID number in the plan');
  check(plan.includes('****'), 'masked ID numbers');
  check(plan.includes('first on the waiting list'), 'the cancelled one is said to go first on the waiting list');
  await h.shot(page, '1-plan');
  h.pass(`the plan lists ${moves} moves and ${cancels} cancellation before anything changes`);

  step('apply');
  res = await submit(page, 'Confirm: move and cancel as listed');
  check(res.status() === 200, `applied, got ${res.status()}`);
  const text = await page.textContent('main');
  check(text.includes(`Exception saved; ${moved} appointments moved, ${cancelled} cancelled.`), `saved: ${text.slice(0, 300)}`);
  check(text.includes('Power cut'), 'the exception and its reason are listed');
  check(problems.scriptErrors.length === 0, `script errors: ${problems.scriptErrors}`);
  await h.shot(page, '2-applied');
  h.pass('confirming applies the plan shown');
});
