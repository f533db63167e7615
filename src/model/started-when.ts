/** A body field a healthy answer must hold (service/health.ts): a preset's word for "started", e.g. `status: started`. */
export interface StartedWhen {
  field: string;
  value: string;
}
