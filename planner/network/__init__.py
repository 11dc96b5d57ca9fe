"""Routable road network: from the embedded corridors or from OpenStreetMap.

:class:`RoadNetwork` (:mod:`planner.network.graph`) is a directed graph with metres and truck
seconds on every edge, measured in its own projected CRS. Its constructors meet in one place,
``RoadNetwork(...)``, which checks the arrays the builders produce:

- :meth:`RoadNetwork.from_corridors`: the embedded corridor LineStrings, densified to short
  straight segments, two-way, with linear referencing (:meth:`RoadNetwork.corridor_samples`);
  arrays from :mod:`planner.network.build`;
- :meth:`RoadNetwork.from_osm`: an OpenStreetMap ``.osm.pbf``/``.osm``/``.osm.bz2``/``.osm.gz``
  extract streamed with pyosmium (:mod:`planner.network.osm`), roads a truck or van may
  drive, one-way streets kept one-way, truck rules per edge (:meth:`RoadNetwork.for_vehicle`,
  :mod:`planner.network.vehicle`);
- :meth:`RoadNetwork.from_graph`: any networkx graph with ``x``/``y`` node attributes
  (:mod:`planner.network.build`);
- :meth:`RoadNetwork.load`: a network written by :meth:`RoadNetwork.save` (:mod:`planner.network.store`).

Modules, bottom-up: ``speeds`` (truck speed of an edge from its tags), ``vehicle`` (truck
rules), ``build`` / ``osm`` / ``store`` (arrays from corridors and graphs / OSM files / saved
files), ``snap`` (points to edges), ``index`` (the Dijkstra kernels), ``graph`` (RoadNetwork).
"""

from planner.network.graph import RoadNetwork
from planner.network.speeds import DRIVEABLE_HIGHWAYS, HIGHWAY_SPEED_KMH, TRUCK_SPEED_KMH, parse_maxspeed

__all__ = [
    "DRIVEABLE_HIGHWAYS",
    "HIGHWAY_SPEED_KMH",
    "TRUCK_SPEED_KMH",
    "RoadNetwork",
    "parse_maxspeed",
]
