// mdpipe's `emoji` step, in JavaScript: `:shortcode:` to emoji, outside code; unknown shortcodes
// are left as they are. The `extra` setting adds shortcodes: `extra = "rust=🦀,wasm=🧩"`.

import { log } from 'componentry:plugin/log@0.1.0';
import { get } from 'componentry:plugin/settings@0.1.0';

const BUILT_IN = {
  smile: '😄', tada: '🎉', rocket: '🚀', warning: '⚠️', bulb: '💡', heart: '❤️',
  lock: '🔒', zap: '⚡', package: '📦', books: '📚', check: '✅', x: '❌',
};

function table() {
  const codes = { ...BUILT_IN };
  for (const pair of (get('extra') ?? '').split(',')) {
    const [name, emoji] = pair.split('=');
    if (name && emoji) {
      codes[name.trim()] = emoji.trim();
    }
  }
  return codes;
}

export const step = {
  transform(document) {
    const codes = table();
    let replaced = 0;
    // Split off code spans and fences; even parts are prose.
    const parts = document.split(/(```[\s\S]*?```|`[^`\n]*`)/);
    for (let i = 0; i < parts.length; i += 2) {
      parts[i] = parts[i].replace(/:([a-z0-9_+-]+):/g, (whole, name) => {
        if (name in codes) {
          replaced += 1;
          return codes[name];
        }
        return whole;
      });
    }
    log('info', `replaced ${replaced} shortcodes`);
    return parts.join('');
  },
};
