;; A component whose `version` export returns VERSION (replaced by the tests): versions of one
;; plugin for the hot-reload tests and benchmark.
(component
  (core module $m (func (export "v") (result i32) i32.const VERSION))
  (core instance $i (instantiate $m))
  (func (export "version") (result u32) (canon lift (core func $i "v")))
)
