// Saved workflow histories for the replay suite come from the real CLI
// (`temporal workflow show --output json`), the format `historyFromJSON` reads back.
import { execa } from 'execa';
import { writeFile } from 'node:fs/promises';
import { temporalCli } from './tools';

export async function saveHistory(
  address: string,
  workflowId: string,
  outFile: string,
  namespace = 'default',
): Promise<void> {
  const { stdout } = await execa(temporalCli(), [
    'workflow',
    'show',
    `--address=${address}`,
    `--namespace=${namespace}`,
    `--workflow-id=${workflowId}`,
    '--output=json',
  ]);
  JSON.parse(stdout); // refuse to save anything but a complete JSON history
  await writeFile(outFile, stdout.endsWith('\n') ? stdout : `${stdout}\n`);
}
