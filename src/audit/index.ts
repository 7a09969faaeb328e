/** fedstat/audit: accountability events and sinks (the signed transparency log builds on this seam). */
export * from './events.js';
