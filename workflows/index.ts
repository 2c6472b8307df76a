// Every workflow the worker registers.
export { perconaPointInTimeRecovery } from './percona-point-in-time-recovery';
