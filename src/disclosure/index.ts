/**
 * fedstat/disclosure: statistical disclosure control that runs on released tables (local
 * computation only). Today: primary and complementary cell suppression within one release, and
 * the exact check that no withheld cell can be recomputed from what is published.
 */
export { planSuppression, type ReleasedCell, type SuppressionOptions, type SuppressionPlan, type WithheldCell } from './complementary-suppression.js';
export { isRecomputable, protectionWidths, recomputableCells, type CellProtection } from './recomputable.js';
export { cellKey, type Cell, type CellIndex, type MarginsReleased, type SuppressionTable } from './table.js';
