/** The stored files (`documents`): each with a Save and a Delete button. */
import { documents } from '../src/index.js';
import { $, button, formatBytes } from './dom.js';

/** Lists the stored files again. */
export async function renderFiles(): Promise<void> {
  const items = await Promise.all(
    (await documents.list()).map(async (name) => {
      const item = document.createElement('li');
      item.dataset.name = name;
      const blob = await documents.get(name);
      const save = button('Save', async () => {
        const file = await documents.get(name);
        if (!file) return;
        const link = Object.assign(document.createElement('a'), { href: URL.createObjectURL(file), download: name });
        link.click();
        setTimeout(() => URL.revokeObjectURL(link.href), 1000);
      });
      const remove = button('Delete', () => void documents.delete(name).then(renderFiles));
      item.append(`${name} (${blob ? formatBytes(blob.size) : '?'}) `, save, ' ', remove);
      return item;
    }),
  );
  $('#files').replaceChildren(...items);
}
