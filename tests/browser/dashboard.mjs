// Dosewise dashboard journey: the bureau logs in, opens the dashboard (/bureau) on a phone and
// on a desktop, checks that every figure is drawn and its numbers are in a table, switches to a
// town with the selector (a plain GET form), and follows a figure's link to the rows behind it
// (a CSV download). Headless Chromium (Debian's), driven by playwright-core.
//
// Usage: node tests/browser/dashboard.mjs BASE_URL SCREENSHOT_DIR USER PASSWORD TOWN_ID [DOCS_DIR]
// With DOCS_DIR, the phone and desktop screenshots are also saved there as dashboard-phone.png
// and dashboard-desktop.png (README's section shows them).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PHONE_ZH, check, harness, login } from './harness.mjs';

const h = harness({
  title: 'dashboard journey',
  usage: 'BASE_URL SCREENSHOT_DIR USER PASSWORD TOWN_ID',
  shots: 'dashboard-',
  timeoutMs: 90_000,
});
const [user, password, town, docs] = h.args;

/** Every figure drawn, as an image with a name, and with its table. */
async function checkFigures(page) {
  const charts = page.locator('svg.chart[role="img"]');
  check((await charts.count()) === 9, `9 charts, not ${await charts.count()}`);
  check(await page.getByRole('img', { name: '每日接种剂次' }).isVisible(), 'the doses chart is an image named by its title');
  check((await page.locator('.figure table.data').count()) === 9, 'a data table per figure');
  // The chart fits the window: no sideways scrolling.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `the page scrolls sideways by ${overflow}px`);
}

/** A screenshot of the top of the page, kept in docs/ too when asked. */
async function docShot(page, name, height) {
  await h.shot(page, name);
  if (docs) {
    await page.screenshot({ path: join(docs, `dashboard-${name}.png`), fullPage: true, clip: { x: 0, y: 0, width: page.viewportSize().width, height } });
  }
}

h.run(async () => {
  {
    const { page, problems } = await h.open('phone', PHONE_ZH);
    h.step('phone', 'login');
    await login(page, user, password, { lang: 'zh-CN' });
    await page.goto('/bureau');
    check((await page.textContent('h1')).includes('全市'), 'the city dashboard');
    await checkFigures(page);
    await docShot(page, 'phone', 1800);
    check(problems.badLoads.length === 0 && problems.scriptErrors.length === 0, `problems: ${JSON.stringify(problems)}`);
    h.pass('the city dashboard on a phone: 9 charts, each with its table, no sideways scroll');
  }
  const { page } = await h.open('desktop', { viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
  h.step('desktop', 'town');
  await login(page, user, password, { lang: 'zh-CN' });
  await page.goto('/bureau');
  await docShot(page, 'desktop', 1400);
  await page.getByLabel('范围').selectOption(town);
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: '查看' }).click()]);
  check(page.url().includes(`town=${town}`), `the town in the address: ${page.url()}`);
  check((await page.textContent('h1')).includes('测试镇T001'), 'the town dashboard');
  await checkFigures(page);
  await page.locator('#fig-seats summary').click();
  const cells = await page.locator('#fig-seats tr[data-key="2030-03-05"] td').allTextContents();
  check(JSON.stringify(cells) === JSON.stringify(['10', '4', '6', '40.00%']), `seats on 03-05: ${cells}`);
  await h.shot(page, 'town');
  h.pass('the town selector works without script and the table opens');

  h.step('desktop', 'rows');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('[data-figure-link="doses"]').click(),
  ]);
  check(download.url().includes(`vaccinations.csv?town=${town}&from=2030-02-05&to=2030-03-04`), download.url());
  const text = readFileSync(await download.path(), 'utf8');
  const lines = text.trim().split('\n');
  check(lines.length === 10, `9 doses and a header, not ${lines.length} lines`);
  h.pass(`the doses figure links to its ${lines.length - 1} rows`);
});
