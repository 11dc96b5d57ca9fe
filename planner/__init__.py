"""Yizhan (驿站): a service-network planner for Driver's Homes (司机之家).

Modules, one job each:

- :mod:`planner.region` loads an embedded region (boundary, counties, corridors, stations, grid, demand);
- :mod:`planner.stations` is the station schema and its validation;
- :mod:`planner.registry` is the SQLite station registry (versions, audit trail, users);
- :mod:`planner.network` builds routable road networks (corridors or OpenStreetMap);
- :mod:`planner.access` answers nearest-station-by-road questions;
- :mod:`planner.coverage` measures coverage and gaps along corridors and access per grid cell;
- :mod:`planner.candidates`, :mod:`planner.siting`, :mod:`planner.scenario` suggest new sites;
- :mod:`planner.workspace` ties them together for the CLI, the web app and notebooks.
"""

__version__ = "0.1.0"
