// The one browser runner every journey uses: Debian's headless Chromium driven by playwright-core
// (nothing is ever downloaded), pages that record their console errors, script errors and failed
// loads, a watchdog, a screenshot of the page that was open when a step failed, and the closing
// line `<title>: N passed, N failed` the Rust tests look for (exit 1 on failure).
//
// A journey script:
//   const h = harness({ title: 'clinic journey', usage: 'BASE_URL SCREENSHOT_DIR JSON', shots: 'clinic-' });
//   h.run(async () => { const { page } = await h.open('desk', { locale: 'en-US' }); ...; h.pass(); });

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

/** A failed check: its message is the reason printed, without a stack. */
export class StepFailure extends Error {}

/** Fail the current step. */
export function fail(reason) {
  throw new StepFailure(reason);
}

/** Fail the current step with `msg` unless `cond` holds. */
export function check(cond, msg) {
  if (!cond) fail(msg);
}

/**
 * Submit a form and wait for the page it leads to (its response). `target`: the button's name, or
 * a locator; `tap` taps instead of clicking (a touch screen).
 */
export async function submit(page, target, { tap = false } = {}) {
  const button = typeof target === 'string' ? page.getByRole('button', { name: target }) : target;
  const nav = page.waitForNavigation({ waitUntil: 'load' });
  if (tap) await button.tap();
  else await button.click();
  return nav;
}

/** The phone the journeys use (playwright context options): a 390 x 844 window, in Chinese. */
export const PHONE_ZH = { viewport: { width: 390, height: 844 }, isMobile: true, locale: 'zh-CN' };

/** The login page's labels and button, in each language the app speaks. */
const LOGIN_WORDS = {
  en: { user: 'Username', password: 'Password', button: 'Log in' },
  'zh-CN': { user: '用户名', password: '密码', button: '登录' },
};

/**
 * Log in with the staff login form: goes to `/login` first unless `go` is false (the page is
 * already a login form, e.g. where a QR link led); fills the username and password by their labels
 * in `lang`, runs `beforeSubmit` (a screenshot, a check), submits, and fails the step on an HTTP
 * error. Returns the response.
 */
export async function login(page, user, password, { lang = 'en', go = true, tap = false, beforeSubmit } = {}) {
  const words = LOGIN_WORDS[lang];
  if (go) await page.goto('/login');
  await page.getByLabel(words.user).fill(user);
  await page.getByLabel(words.password).fill(password);
  if (beforeSubmit) await beforeSubmit();
  const form = page.locator('form[action="/login"]');
  const res = await submit(page, form.getByRole('button', { name: words.button }), { tap });
  if (!res || res.status() >= 400) fail(`login: HTTP ${res && res.status()}`);
  return res;
}

/** The first line of an error, at most 300 characters. */
export function short(e) {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 300);
}

async function withTimeout(promise, ms) {
  let t;
  return Promise.race([
    promise,
    new Promise((resolve) => {
      t = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(t));
}

const LAUNCH_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Reads `BASE_URL SCREENSHOT_DIR ...` from the command line (exit 2 with the usage line when one
 * is missing) and returns the runner. `usage` names every argument; `shots` prefixes screenshot
 * file names; `timeoutMs` bounds the whole journey.
 */
export function harness({ title, usage, shots = '', timeoutMs = 60_000, stepTimeoutMs = 10_000, navTimeoutMs = 15_000 }) {
  const script = process.argv[1].split('/').slice(-1)[0];
  const wanted = usage.split(/\s+/).length;
  const argv = process.argv.slice(2);
  if (argv.length < wanted || argv.slice(0, wanted).some((a) => !a)) {
    console.error(`usage: node tests/browser/${script} ${usage}`);
    process.exit(2);
  }
  const base = argv[0].replace(/\/+$/, '');
  let origin;
  try {
    origin = new URL(base).origin;
  } catch {
    console.error(`not a URL: ${argv[0]}`);
    process.exit(2);
  }
  const shotDir = argv[1];
  mkdirSync(shotDir, { recursive: true });

  let browser = null;
  let passed = 0;
  let failed = 0;
  let finishing = false;
  const current = { run: '-', step: 'launch', page: null, target: null };

  async function finishWithFailure(reason) {
    if (finishing) return;
    finishing = true;
    failed += 1;
    const { run, step, page } = current;
    let url = '-';
    try {
      if (page && !page.isClosed()) url = page.url();
    } catch {}
    console.log(`FAIL    ${run} ${step}: ${reason}`);
    console.log(`        url: ${url}${current.target && current.target !== url ? ` (while loading ${current.target})` : ''}`);
    if (page && !page.isClosed()) {
      const file = join(shotDir, `${shots}${run}-failure.png`);
      try {
        await withTimeout(page.screenshot({ path: file, fullPage: true, timeout: 5000 }), 6000);
        console.log(`        screenshot: ${file}`);
      } catch (e) {
        console.log(`        (no failure screenshot: ${short(e)})`);
      }
    }
    if (browser) await withTimeout(browser.close().catch(() => {}), 5000);
    console.log(`${title}: ${passed} passed, ${failed} failed`);
    process.exit(1);
  }

  const h = {
    base,
    origin,
    shotDir,
    /** The arguments after BASE_URL and SCREENSHOT_DIR. */
    args: argv.slice(2),
    current,
    get browser() {
      return browser;
    },
    /** Name the run and step a failure is reported under. */
    step(run, step) {
      current.run = run;
      current.step = step;
    },
    /** Count a passed run or step; with a message, print it as `step ok message`. */
    pass(msg) {
      passed += 1;
      if (msg !== undefined) h.say(current.run, current.step, msg);
    },
    say(run, step, msg) {
      console.log(`${run.padEnd(7)} ${step.padEnd(12)} ok  ${msg}`);
    },
    /**
     * A new browser context and page for run `run` (`context`: playwright context options), with
     * the app as base URL. `problems.badLoads` lists subresources of the app that failed,
     * `problems.scriptErrors` uncaught page errors, `problems.consoleErrors` console errors; each
     * is also printed as a warning. The page becomes the one a failure screenshots.
     */
    async open(run, context) {
      current.run = run;
      current.step = 'context';
      current.page = null;
      current.target = null;
      const ctx = await browser.newContext({ ...context, baseURL: base });
      const page = await ctx.newPage();
      current.page = page;
      page.setDefaultTimeout(stepTimeoutMs);
      page.setDefaultNavigationTimeout(navTimeoutMs);
      const problems = { badLoads: [], scriptErrors: [], consoleErrors: [] };
      page.on('response', (res) => {
        if (res.request().resourceType() !== 'document' && res.url().startsWith(origin) && res.status() >= 400) {
          problems.badLoads.push(`${res.status()} ${res.url()}`);
        }
      });
      page.on('pageerror', (e) => {
        problems.scriptErrors.push(short(e));
        console.log(`${run.padEnd(7)} warning      page script error: ${short(e)}`);
      });
      page.on('console', (m) => {
        if (m.type() === 'error') {
          problems.consoleErrors.push(m.text());
          console.log(`${run.padEnd(7)} warning      console error: ${m.text().slice(0, 300)}`);
        }
      });
      return { context: ctx, page, problems };
    },
    /** A full-page screenshot `<shots><name>.png`; returns its path. */
    async shot(page, name, opts = {}) {
      const file = join(shotDir, `${shots}${name}.png`);
      await page.screenshot({ path: file, fullPage: true, ...opts });
      return file;
    },
    /** Launch Chromium, run `body`, close it and print the summary; any failure ends the process. */
    run(body) {
      const watchdog = setTimeout(() => {
        setTimeout(() => process.exit(1), 10_000).unref();
        finishWithFailure(`overall timeout of ${timeoutMs / 1000} s exceeded`);
      }, timeoutMs);
      const main = async () => {
        const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
        browser = await chromium.launch({ executablePath, timeout: 20_000, args: LAUNCH_ARGS });
        console.log(`browser ${executablePath} ${browser.version()}, base ${base}, screenshots in ${shotDir}`);
        await body(h);
        await browser.close();
        if (finishing) return;
        clearTimeout(watchdog);
        console.log(`${title}: ${passed} passed, ${failed} failed`);
      };
      main().catch((e) => finishWithFailure(e instanceof StepFailure ? e.message : short(e)));
    },
  };
  return h;
}
