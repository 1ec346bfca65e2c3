// Dosewise clinic desk offline journey in Debian's headless Chromium (playwright-core): a nurse
// opens the desk while online (the desk keeps its copy of the day), the network drops
// (playwright's context.setOffline, the DevTools protocol's offline emulation), she checks a
// resident in by typed code and records the dose; both wait to sync; the network returns and
// they are sent. The Rust test then checks the database holds exactly those records.
//
// Usage: node tests/browser/offline.mjs BASE_URL SCREENSHOT_DIR JSON
//   JSON: {"username": "...", "password": "...", "code": "...", "last4": "...", "now": MS,
//          "ids": [the ID numbers of the day's residents, which must not be kept]}
// Prints one line per step and ends with `offline journey: N passed, N failed`; exit 1 on failure.

import { fail, harness, login, submit } from './harness.mjs';

const h = harness({ title: 'offline journey', usage: 'BASE_URL SCREENSHOT_DIR JSON', shots: 'offline-' });
const input = JSON.parse(h.args[0]);
const RUN = 'tablet';

async function queued(page, n) {
  await page.waitForFunction((n) => document.querySelectorAll('#offline-queue li.waiting').length === n, n);
}

h.run(async () => {
  const { context, page, problems } = await h.open(RUN, {
    viewport: { width: 820, height: 1180 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai',
  });
  // The tablet's clock reads the server's (fixed) test time.
  await page.clock.setFixedTime(new Date(input.now));

  h.step(RUN, '1-prepare');
  await login(page, input.username, input.password, { lang: 'zh-CN' });
  // The desk page registers the service worker and keeps its copy of the day.
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.waitForSelector('#offline-queue[data-ready]', { state: 'attached' });
  // Once more under the service worker's control, as a tablet is the rest of the day.
  await page.reload();
  await page.waitForSelector('#offline-queue[data-ready]', { state: 'attached' });
  const controlled = await page.evaluate(() => !!navigator.serviceWorker.controller);
  if (!controlled) fail('the desk page is not controlled by the service worker');
  const kept = await page.evaluate(async () => {
    const names = await caches.keys();
    const c = await caches.open(names.find((n) => n.startsWith('desk:')));
    const day = await (await c.match(`/staff/sites/${document.getElementById('offline-queue').dataset.site}/today.json`)).json();
    return { names, rows: day.rows.length, text: JSON.stringify(day) };
  });
  if (kept.rows < 1) fail(`no rows kept: ${kept.text}`);
  if (input.ids.some((id) => kept.text.includes(id))) fail('a full ID number in the kept list');
  h.pass(`desk kept ${kept.names.join(', ')} with ${kept.rows} row(s)`);

  h.step(RUN, '2-offline');
  await context.setOffline(true);
  await page.waitForSelector('#offline-queue[data-state=offline]', { state: 'visible' });
  await page.locator('#code').fill(`${input.code.slice(0, 4)}-${input.code.slice(4)}`.toLowerCase());
  await submit(page, page.locator('form[action="/staff/checkin"] button[type=submit]'));
  if (new URL(page.url()).pathname !== `/staff/checkin/${input.code}`) fail(`expected the check-in page, at ${page.url()}`);
  await page.locator('#last4').fill(input.last4);
  for (const q of ['fever', 'allergy', 'pregnant', 'recent_vaccine']) {
    await page.locator(`input[name=${q}][value=no]`).check();
  }
  await page.locator('form[data-offline=check_in] button[type=submit]').click();
  await queued(page, 1);
  if (!(await page.locator('form[data-offline=dose]').isVisible())) fail('no dose form after the offline check-in');
  await page.locator('form[data-offline=dose] button[type=submit]').click();
  await queued(page, 2);
  const panel = await page.locator('#offline-queue').innerText();
  if (!panel.includes('等待同步')) fail(`not shown as waiting to sync: ${panel}`);
  await h.shot(page, 'queued');
  h.pass('check-in and dose waiting to sync');

  h.step(RUN, '3-online');
  await context.setOffline(false);
  await page.waitForSelector('#offline-queue[data-state=synced], #offline-queue[data-state=refused]', { state: 'attached', timeout: 15_000 })
    .catch(() => {});
  const state = await page.locator('#offline-queue').getAttribute('data-state');
  if (state !== 'synced') fail(`not synced (${state}): ${await page.locator('#offline-queue').evaluate((e) => e.outerHTML)}`);
  const left = await page.locator('#offline-queue li').count();
  if (left !== 0) fail(`${left} item(s) left after syncing: ${await page.locator('#offline-queue').innerText()}`);
  await h.shot(page, 'synced');
  if (problems.scriptErrors.length) fail(`script errors: ${problems.scriptErrors.join('; ')}`);
  h.pass('sent');
  await context.close();
});
