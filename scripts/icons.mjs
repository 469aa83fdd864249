// @ts-check
/**
 * Renders `public/icon.svg` to the PNG icons the web app manifest names, in headless Chromium:
 * `icon-192.png` and `icon-512.png` as drawn (transparent corners), and `icon-maskable-512.png`
 * and `apple-touch-icon.png` (180 px) full-bleed, the glyph shrunk into the maskable safe zone
 * (the centre circle of 80 %) so that any mask a platform cuts leaves it whole.
 * Run it after changing the SVG: `node scripts/icons.mjs`.
 */
import { chromium } from '@playwright/test';
import { readFile } from 'node:fs/promises';
import { CHROMIUM_PATH, chromiumArgs } from './chromium.mjs';

const svg = await readFile('public/icon.svg', 'utf8');
// The maskable icon's background is the SVG's own (its first fill), so the rounded corners vanish into it.
const background = /fill="(#[0-9a-f]{3,8})"/i.exec(svg)?.[1];
if (!background) throw new Error('public/icon.svg: no fill colour for the maskable background');

/** @type {{ file: string; size: number; maskable: boolean }[]} */
const icons = [
  { file: 'icon-192.png', size: 192, maskable: false },
  { file: 'icon-512.png', size: 512, maskable: false },
  { file: 'icon-maskable-512.png', size: 512, maskable: true },
  { file: 'apple-touch-icon.png', size: 180, maskable: true },
];

const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: chromiumArgs() });
try {
  const page = await browser.newPage();
  for (const { file, size, maskable } of icons) {
    await page.setViewportSize({ width: size, height: size });
    // 70 %: the glyph's corners (29 of 64 units from the centre) fall within the safe circle's 40 %.
    const scale = maskable ? 0.7 : 1;
    const style = `html,body{margin:0;width:100%;height:100%;display:grid;place-items:center;background:${maskable ? background : 'transparent'}}svg{width:${scale * 100}%;height:${scale * 100}%}`;
    await page.setContent(`<style>${style}</style>${svg}`);
    await page.screenshot({ path: `public/${file}`, omitBackground: !maskable });
    console.log(`public/${file}: ${size}×${size}${maskable ? ', maskable' : ''}`);
  }
} finally {
  await browser.close();
}
