import { describe, expect, it } from 'vitest';
import { apiOrigin, memoryPermissionPersistence, OriginPermissions } from './permissions.js';

describe('apiOrigin', () => {
  it('accepts https origins and http on loopback', () => {
    for (const o of ['https://portal.example.org', 'https://a.example:8443', 'http://localhost:5173', 'http://127.0.0.1:8080']) {
      expect(apiOrigin(o)).toBe(o);
    }
  });
  it('refuses opaque, file, extension, plain-http and non-canonical origins', () => {
    for (const o of ['null', 'file://', 'chrome-extension://abc', 'http://evil.example', 'https://a.example/', 'https://A.example', 'https://u:p@a.example', 'javascript:alert(1)', '']) {
      expect(apiOrigin(o)).toBeUndefined();
    }
  });
});

describe('OriginPermissions', () => {
  it('connects, lists, revokes, and persists each change', async () => {
    const store = memoryPermissionPersistence();
    const perms = await OriginPermissions.open(store);
    await perms.connect('https://a.example', 1);
    await perms.connect('https://b.example', 2);
    expect(perms.list().map((r) => r.origin)).toEqual(['https://b.example', 'https://a.example']);
    await perms.revoke('https://a.example');
    const reopened = await OriginPermissions.open(store);
    expect(reopened.isConnected('https://a.example')).toBe(false);
    expect(reopened.isConnected('https://b.example')).toBe(true);
  });

  it('loses nothing when changes run concurrently', async () => {
    const store = memoryPermissionPersistence();
    const perms = await OriginPermissions.open(store);
    await Promise.all(Array.from({ length: 20 }, (_, i) => perms.connect(`https://o${i}.example`, i)));
    await Promise.all(Array.from({ length: 20 }, (_, i) => perms.addGrant(`https://o${i}.example`, `g${i}`)));
    const reopened = await OriginPermissions.open(store);
    expect(reopened.list()).toHaveLength(20);
    expect(reopened.get('https://o7.example')?.grantIds).toEqual(['g7']);
  });

  it('keeps one origin’s provider access from another', async () => {
    const perms = await OriginPermissions.open(memoryPermissionPersistence());
    await perms.connect('https://a.example', 1);
    await perms.connect('https://b.example', 1);
    await perms.allowProviderRead('https://a.example');
    expect(perms.get('https://a.example')?.providerRead).toBe(true);
    expect(perms.get('https://b.example')?.providerRead).toBe(false);
  });

  it('ignores corrupt or foreign saved data instead of trusting it', async () => {
    for (const saved of [null, 'x', [{ origin: 'https://a.example' }], [{ origin: 'http://evil.example', connectedAt: 1, providerRead: true, grantIds: [] }]]) {
      const perms = await OriginPermissions.open({ load: () => Promise.resolve(saved), save: () => Promise.resolve() });
      expect(perms.list()).toEqual([]);
    }
  });

  it('does not make a change visible when saving it fails', async () => {
    const perms = await OriginPermissions.open({ load: () => Promise.resolve([]), save: () => Promise.reject(new Error('disk full')) });
    await expect(perms.connect('https://a.example', 1)).rejects.toThrow('disk full');
    expect(perms.isConnected('https://a.example')).toBe(false);
  });
});
