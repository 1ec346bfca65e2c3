// Dosewise set-up journey: an administrator sets up a new city from an empty database with the
// pages only (a town, a vaccine, a site with its weekly template, which publishes slots), then a
// resident on a phone sees the town, the site and its slots. Headless Chromium (Debian's), driven
// by playwright-core; nothing is downloaded.
//
// Usage: node tests/browser/setup.mjs BASE_URL SCREENSHOT_DIR ADMIN_USER ADMIN_PASSWORD
// Prints one line per step and ends with `setup journey: N passed, N failed`; exit 1 on failure.

import { PHONE_ZH, check, harness, login, submit } from './harness.mjs';

const h = harness({
  title: 'setup journey',
  usage: 'BASE_URL SCREENSHOT_DIR ADMIN_USER ADMIN_PASSWORD',
  shots: 'setup-',
  timeoutMs: 90_000,
});
const [user, password] = h.args;

h.run(async () => {
  const { page } = await h.open('admin', { viewport: { width: 1280, height: 900 }, locale: 'en-US' });
  const step = (name) => h.step('admin', name);
  const ok = (msg) => h.pass(msg);

  step('login');
  await login(page, user, password);
  await page.goto('/admin');
  check((await page.textContent('h1')).includes('Administration'), 'admin start page');
  await h.shot(page, '1-admin');
  ok('the admin start page lists the set-up steps');

  step('town');
  await page.goto('/admin/towns');
  await page.getByLabel('Code').fill('T001');
  await page.getByLabel('Name', { exact: true }).fill('Riverside');
  await page.getByLabel('Eligible population').fill('42000');
  await page.getByLabel('Contact emails for notices').fill('office@riverside.example.org');
  let res = await submit(page, 'Add a town');
  check(res.status() === 200 && (await page.content()).includes('Riverside'), 'town listed');
  ok('town T001 Riverside created');

  step('vaccine');
  await page.goto('/admin/products');
  await page.getByLabel('Code').fill('INACT-2');
  await page.getByLabel('Name', { exact: true }).fill('Inactivated COVID-19 vaccine');
  await page.getByLabel('Manufacturer').fill('Example Biotech');
  res = await submit(page, 'Add a vaccine');
  check((await page.content()).includes('Inactivated COVID-19 vaccine'), 'vaccine listed');
  ok('vaccine created with the default series (2 doses, 21-56 days)');

  step('site');
  await page.goto('/admin/sites');
  await page.getByLabel('Name', { exact: true }).fill('Riverside Health Centre');
  await page.getByLabel('Address', { exact: true }).fill('1 River Road');
  await submit(page, 'Add a site');
  check(page.url().includes('/admin/sites/'), `site page, got ${page.url()}`);
  ok('site created; its page opens on the weekly template');

  step('template');
  await page.getByLabel('INACT-2 · Inactivated COVID-19 vaccine').check();
  for (const d of [0, 1, 2, 3, 4]) {
    await page.fill(`#opens_${d}`, '08:30');
    await page.fill(`#lunch_starts_${d}`, '11:30');
    await page.fill(`#lunch_ends_${d}`, '13:30');
    await page.fill(`#closes_${d}`, '16:30');
  }
  await page.fill('#opens_5', '09:00');
  await page.fill('#closes_5', '12:00');
  await page.getByLabel('Slot length (minutes)').fill('30');
  await page.getByLabel('Seats per slot (the crowd limit)').fill('4');
  await page.getByLabel('Days of slots published ahead').fill('7');
  await submit(page, 'Save the template and publish slots');
  const text = await page.textContent('main');
  const m = text.match(/Template saved: (\d+) slots created/);
  check(m && Number(m[1]) > 0, `slots published: ${text.slice(0, 200)}`);
  await h.shot(page, '2-site-template');
  ok(`template saved, ${m[1]} slots published`);

  const { page: rp } = await h.open('phone', { ...PHONE_ZH, deviceScaleFactor: 2, hasTouch: true });
  h.step('phone', 'resident');
  await rp.goto('/');
  await Promise.all([rp.waitForNavigation(), rp.getByRole('link', { name: /Riverside/ }).click()]);
  await Promise.all([rp.waitForNavigation(), rp.getByRole('link', { name: /Riverside Health Centre/ }).first().click()]);
  // No shipment has reached the site yet: its slots are listed, but the page says there is no
  // vaccine to book and links to no booking form (residents book once doses arrive).
  const slots = await rp.locator('li.slot').count();
  check(slots > 0, 'the resident sees the new site\'s slots');
  check(await rp.locator('[data-testid="no-stock"]').isVisible(), 'the site says it has no vaccine yet');
  check(await rp.locator('a[href^="/slots/"]').count() === 0, 'no slot offers a booking that would fail');
  const scroll = await rp.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
  check(scroll, 'no sideways scroll on the phone');
  await h.shot(rp, '3-resident-site');
  ok(`the resident sees ${slots} slots at the new site`);
});
