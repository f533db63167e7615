import { pinCommand } from './pin.js';

export const run = pinCommand(false);
