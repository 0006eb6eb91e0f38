/**
 * `diff` on cases built for it: keys in Unicode code point order (not UTF-16's, where an emoji
 * sorts before U+FFFD), and two admins of one org sharing a mailbox (one key) paired by their
 * user ids, so the one who left is the one reported removed.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { explain, runCli, tempDir } from './helpers.js';
import { buildCase, type CaseSpec } from './report-helpers.js';

const SMILE = '\u{1F600}';
const REPLACEMENT = '\uFFFD';

function spec(second: boolean): CaseSpec {
  const ids = ['1', '10', REPLACEMENT, SMILE].filter((id) => !(second && id === '10'));
  return {
    users: [
      { id: '1', email: 'one@example.com', name: 'One' },
      { id: '10', email: 'ten@example.com', name: 'Ten' },
      { id: REPLACEMENT, email: 'rep@example.com', name: 'Rep' },
      { id: SMILE, email: 'smile@example.com', name: 'Smile' },
      { id: 'a1', email: 'ops@example.com', name: 'Ops One' },
      { id: 'a2', email: 'ops@example.com', name: 'Ops Two' },
    ],
    orgs: [
      { id: '1', name: 'Org One' },
      { id: '10', name: 'Org Ten' },
    ],
    memberships: [
      { user_id: '1', org_id: '1', role: 'member' },
      { user_id: '10', org_id: '10', role: 'member' },
      { user_id: REPLACEMENT, org_id: '10', role: 'member' },
      { user_id: SMILE, org_id: '10', role: 'member' },
      { user_id: 'a1', org_id: '1', role: 'admin' },
      { user_id: 'a2', org_id: '1', role: second ? 'member' : 'admin' },
    ],
    events: ids.map((id) => ({ distinct_id: `d-${id}`, $user_id: id, $city: 'Leeds', ...(second ? { $os: 'Linux' } : {}) })),
  };
}

let first: string;
let second: string;

beforeAll(async () => {
  first = await buildCase(tempDir('bi-diff-a-'), spec(false));
  second = await buildCase(tempDir('bi-diff-b-'), spec(true));
});

describe('diff on made-to-measure cases', () => {
  it('sorts keys by Unicode code point and names the changed columns in list order', async () => {
    const r = await runCli(['diff', first, second, '--list', 'users']);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toBe(
      [
        'list,change,key,changed,user_id,email,name,org_ids,matched_by,events,first_seen,last_seen,exposed,countries,regions',
        'users,changed,1,exposed,1,one@example.com,One,1,user_id,1,2025-11-01T12:26:40Z,2025-11-01T12:26:40Z,location;device;ids,,',
        'users,removed,10,,10,ten@example.com,Ten,10,user_id,1,2025-11-01T12:26:41Z,2025-11-01T12:26:41Z,location;ids,,',
        `users,changed,${REPLACEMENT},first_seen;last_seen;exposed,${REPLACEMENT},rep@example.com,Rep,10,user_id,1,2025-11-01T12:26:41Z,2025-11-01T12:26:41Z,location;device;ids,,`,
        `users,changed,${SMILE},first_seen;last_seen;exposed,${SMILE},smile@example.com,Smile,10,user_id,1,2025-11-01T12:26:42Z,2025-11-01T12:26:42Z,location;device;ids,,`,
        '',
      ].join('\n'),
    );
  });

  it('pairs two admins who share a mailbox by their user ids: the one who is no longer admin is removed', async () => {
    const r = await runCli(['diff', first, second, '--list', 'roster']);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stderr).toContain('were made from different internal databases');
    expect(r.stdout).toBe(
      'list,change,key,changed,org_id,org_name,email,name,role,affected_users,exposed\n' +
        'roster,changed,1:ops@example.com,exposed,1,Org One,ops@example.com,Ops One,admin,1,location;device;ids\n' +
        'roster,removed,1:ops@example.com,,1,Org One,ops@example.com,Ops Two,admin,1,location;ids\n',
    );
    const back = await runCli(['diff', second, first, '--list', 'roster', '--format', 'jsonl']);
    expect(back.stdout.split('\n')[1]).toBe('{"list":"roster","change":"added","key":"1:ops@example.com","changed":[],"row":{"org_id":"1","org_name":"Org One","email":"ops@example.com","name":"Ops Two","role":"admin","affected_users":1,"exposed":["location","ids"]},"was":null}');
  });
});
