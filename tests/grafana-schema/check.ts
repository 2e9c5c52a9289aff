// Type-checks recce7's Grafana dashboards against Grafana's own schema (@grafana/schema).
// Nothing runs: `tsc --noEmit -p .` (check.sh) fails when a dashboard does not fit the types.
//
// A JSON module's strings and numbers are typed `string` and `number`, never literals, so an
// enum or literal union of the schema (ThresholdsMode, "h" | "v", ...) could never accept them.
// `Json<T>` turns those into `string` / `number` and keeps everything else: required fields,
// object shapes, arrays, numbers vs strings, booleans, null. A misplaced value (a panel's
// `"gridPos": "oops"`, a string `schemaVersion`, a missing `type`) still fails.

import type { Dashboard, GridPos, Panel } from '@grafana/schema';
import type {
  FieldConfig as TimeSeriesFieldConfig,
  Options as TimeSeriesOptions,
} from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';
import type { Options as StatOptions } from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen';

import attackOverview from '../../configs/grafana/dashboards/attack-overview.json';
import sensorHealth from '../../configs/grafana/dashboards/sensor-health.json';

/** The type a JSON module can have for a value of type `T` (literals widened, shapes kept). */
type Json<T> = T extends string
  ? string
  : T extends number
    ? number
    : T extends boolean
      ? boolean
      : T extends ReadonlyArray<infer E>
        ? Array<Json<E>>
        : T extends object
          ? { [K in keyof T]: Json<T[K]> }
          : T;

/** A Prometheus query as recce7's panels write it. */
interface PromTarget {
  datasource: { type: string; uid: string };
  expr: string;
  legendFormat?: string;
  refId: string;
}

/** What every recce7 panel has on top of Grafana's `Panel`: a place, a title, Prometheus queries. */
interface Recce7Panel {
  datasource: { type: string; uid: string };
  gridPos: GridPos;
  id: number;
  targets: PromTarget[];
  title: string;
  type: string;
}

/** A time series panel: Grafana's `Panel` with the timeseries plug-in's options and field config. */
type TimeSeriesPanel = Json<Panel<TimeSeriesOptions, TimeSeriesFieldConfig>> & {
  options: Json<TimeSeriesOptions>;
};

/** A stat panel: Grafana's `Panel` with the stat plug-in's options. */
type StatPanel = Json<Panel<StatOptions>> & { options: Json<StatOptions> };

/** A recce7 dashboard: Grafana's `Dashboard`, every panel a time series or stat panel. */
type Recce7Dashboard = Json<Dashboard> & {
  panels: Array<(TimeSeriesPanel | StatPanel) & Recce7Panel>;
  title: string;
  uid: string;
};

export const dashboards: Record<string, Recce7Dashboard> = {
  'attack-overview.json': attackOverview,
  'sensor-health.json': sensorHealth,
};

// The plain schema type as well, in case `Recce7Dashboard` ever drifts from it.
export const plain: Array<Json<Dashboard>> = [attackOverview, sensorHealth];
