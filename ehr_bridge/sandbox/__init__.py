"""Stand-ins for the hospital's EHR, apart from the product code: a FHIR R4 sandbox server
(`server`, `store`), the example patients it holds (`seed`) and the demo's ADT feed
(`demo_feed`). Product code never imports this package; the demo, the CLI's sandbox command,
the tests and the benchmarks do."""
