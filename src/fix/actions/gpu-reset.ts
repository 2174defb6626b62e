import { execArgv, which } from './exec';
import type { ActionRunner } from './types';
/** nvidia-smi --gpu-reset, only when no process uses the GPU. */
export const gpuReset: ActionRunner = async (step) => {
  const smi = which('nvidia-smi');
  if (!smi)
    return {
      status: 'unsupported',
      detail: 'refused: nvidia-smi is not installed (no NVIDIA GPU on this host): cannot check that the GPU is idle, so it is not reset',
    };
  const idx = String(step.params.gpu ?? step.target.id.replace(/^gpu:/, '') ?? '0');
  const apps = await execArgv(smi, ['--query-compute-apps=pid', '--format=csv,noheader', '-i', idx]);
  if (apps.code !== 0) return { status: 'refused', detail: `refused: cannot list the processes on GPU ${idx}: ${apps.stderr.trim()}` };
  const users = apps.stdout
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
  if (users.length) return { status: 'refused', detail: `refused: GPU ${idx} is in use by pid(s) ${users.join(', ')}` };
  const r = await execArgv(smi, ['--gpu-reset', '-i', idx], 120_000);
  return r.code === 0
    ? { status: 'ok', detail: `GPU ${idx} reset` }
    : { status: 'failed', detail: `nvidia-smi --gpu-reset -i ${idx}: exit ${r.code}: ${r.stderr.trim()}` };
};
