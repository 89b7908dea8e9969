import { afterEach } from 'vitest';
import { TestResources } from './node.js';

/**
 * One `TestResources` for the enclosing file or `describe`, disposed after every test (dispose
 * empties it), so no node or socket a test opened outlives that test.
 */
export function useTestResources(): TestResources {
  const resources = new TestResources();
  afterEach(() => resources.dispose());
  return resources;
}
