/** The stored files (`documents`): each with its size, type, digest and source, Play (media), Save and Delete. */
import { documents, type StoredDocument } from '../src/index.js';
import { $, button, formatBytes } from './dom.js';

/** Lists the stored files again. */
export async function renderFiles(): Promise<void> {
  const items = await Promise.all((await documents.list()).map(fileItem));
  $('#files').replaceChildren(...items);
}

/** One stored file's line. */
async function fileItem({ name, size, type, url, digest }: StoredDocument): Promise<HTMLLIElement> {
  const item = document.createElement('li');
  item.dataset.name = name;
  item.title = `${url}\n${digest}`;
  const served = await documents.url(name);
  // Streamed from storage: to a file the user picks, or a download the worker answers.
  const save = button('Save', () => void documents.save(name));
  const remove = button('Delete', () => void documents.delete(name).then(renderFiles));
  const hash = digest ? `, ${digest.slice(0, 14)}…` : '';
  item.append(`${name} (${formatBytes(size)}, ${type || 'no type'}${hash}) `, save, ' ', remove);
  if (/^(audio|video)\//.test(type))
    item.append(
      ' ',
      button('Play', () => play(item, served, type)),
    );
  return item;
}

/** Plays a stored file in place, from the worker (with seeking, offline too). */
function play(item: HTMLLIElement, src: string, type: string): void {
  const player = document.createElement(type.startsWith('audio/') ? 'audio' : 'video');
  Object.assign(player, { src, controls: true, autoplay: true });
  player.style.maxWidth = '100%';
  item.querySelector('audio, video')?.remove();
  item.append(player);
}

/** The "keep my files" toggle: asks for persistent storage (at the click, as browsers require). */
export async function persistToggle(): Promise<void> {
  const toggle = $<HTMLInputElement>('#persist');
  toggle.checked = (await navigator.storage?.persisted?.()) ?? false;
  toggle.addEventListener('change', async () => {
    // The browser decides; once granted it cannot be taken back from the page.
    toggle.checked = toggle.checked ? await documents.persist() : ((await navigator.storage?.persisted?.()) ?? false);
  });
}
