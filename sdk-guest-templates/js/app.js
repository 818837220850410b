// {{name}}: a Componentry plugin in JavaScript. It implements the `componentry:plugin/greeter`
// world: `greet(name)` returns "Hello, NAME!" (or the `greeting` its settings give), and tells
// the host's log whom it greeted.

import { log } from 'componentry:plugin/log@0.1.0';
import { get } from 'componentry:plugin/settings@0.1.0';

export function greet(name) {
  if (name === '') {
    // An uncaught exception traps; the host's error carries its message and stack.
    throw new Error('a name is required');
  }
  log('info', `greeting ${name}`);
  const greeting = get('greeting') ?? 'Hello';
  return `${greeting}, ${name}!`;
}
