// A primary program whose `X__fallback` runs in its place (older kernels) is not
// a probe failure: events, record, the agent log, metrics and doctor all decide
// that with programsNotRunning, so they agree.
import t from 'tap';
import { programsNotRunning, type FamilyStatus } from '../src/native/addon';

t.test('covered primaries run through their fallback; everything else not attached does not run', async (t) => {
  const net: FamilyStatus = {
    family: 'net',
    loaded: true,
    programs: [
      {
        name: 'on_send',
        section: 'tp_btf/sock_send_length',
        attached: false,
        error: 'load: No such process',
        coveredBy: 'on_send__fallback',
      },
      { name: 'on_state', section: 'tp_btf/inet_sock_set_state', attached: true },
      { name: 'on_retransmit', section: 'tp_btf/tcp_retransmit_skb', attached: false, error: 'load: Invalid argument' },
      { name: 'on_send__fallback', section: 'tp_btf/tcp_rcv_space_adjust', attached: true },
      { name: 'on_state__fallback', section: 'tp_btf/inet_sock_set_state', attached: false, error: 'attach: Invalid argument' },
    ],
  };
  t.same(
    programsNotRunning(net).map((p) => p.name),
    ['on_retransmit', 'on_state__fallback'],
  );
  t.same(programsNotRunning({ family: 'sched', loaded: true, programs: [] }), []);
});
