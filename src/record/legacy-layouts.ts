/**
 * Recordings made before per-kind layout hashes carry only `layout_hash`, one
 * hash over every field of every kind. These are the per-kind hashes
 * (KIND_LAYOUT_HASHES' algorithm) of the layouts such files were written with,
 * by that hash, so they stay readable once kinds are added. Frozen history:
 * never edit an entry; a build whose layout differs still decodes the kinds
 * whose hashes match.
 */
export const LEGACY_LAYOUTS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  // main up to 5bc0790: record version 1, kinds 1..14 (test/fixtures/main-5bc0790.xrec)
  df64623efa184565: {
    hdr: '0aee3ad2b39ead3f',
    tcp_retransmit: '26d4da66c598b39a',
    block_io: '5621734753b754de',
    exec: '62629bc8e7f8ca7a',
    exit: 'f1edcf9ffdaf7d7b',
    signal: 'b7195f61ddc11b21',
    oom_kill: '428b89ca0920a059',
    fork: 'ea9ab9e4c2207e2c',
    offcpu: '13992fb0601e47d2',
    bench: 'fa5c3798c06085d9',
    gpu_sample: 'dc3824577473a3f1',
    gpu_proc_mem: '51bd8aaea8b76598',
    gpu_event: 'd9d4c5f6294ffce3',
    cuda_alloc: '65a56b97b19788d2',
    nccl_call: 'd4fd75483e733dfb',
  },
};
