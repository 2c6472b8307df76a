// Runs fetchBackup once in a process of its own (its own process group), so a test can SIGKILL it in
// the middle of a phase as a crashed host agent would be: the request comes as JSON in argv[2]
// (secret references only; the S3 keys are in this process's environment).
import { fetchBackup, type FetchBackupRequest } from '../../activities/mysql/backup-fetch';

const req = JSON.parse(process.argv[2]!) as FetchBackupRequest;
fetchBackup(req).then(
  (r) => {
    console.log(JSON.stringify(r));
    process.exit(0);
  },
  (err: Error) => {
    console.error(err.message);
    process.exit(1);
  },
);
