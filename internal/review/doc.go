// Package review is uar's application layer: what each command does, as
// functions over a [Step] (the open store, the ledger, the run, the review
// label and the run's one clock reading) and the adapters cli built for it.
//
// It sits between cli (flags, config, streams, exit codes) and the domain
// packages and adapters (store, evidence, score, okta, publish/*). It never
// imports cobra or viper, never reads the environment and never writes to
// the standard streams: progress and warnings go through [Reporter], and
// results are returned as values for cli to render.
//
// # Conventions
//
// Every derived row is written through [evidence.Ledger.Derive] with a
// typed params struct per pass (SnapshotOktaParams, ScoreParams...); the
// re-derivers in [Rederivers] read the same struct back, so writer and
// checker cannot drift. Adapters are used through small consumer-side
// interfaces (OktaSource, Pages, Tickets, Chat), so the engines here are
// tested against the sandbox fakes without cli.
package review
