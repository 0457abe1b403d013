//go:build pjrt

package xla

// Built with -tags pjrt, the binary also registers gomlx's XLA backend ("xla", with the aliases
// "stablehlo", "shlo" and "hlo"), which runs the graphs through a PJRT plugin loaded at run time
// with dlopen: GOMLX_BACKEND=xla:cuda (or xla:<path to the plugin .so>) for NVIDIA GPUs, with
// the plugin found in PJRT_PLUGIN_LIBRARY_PATH. It needs cgo, which is why the default build
// leaves it out and stays pure Go. See the README's GPU section.
import gomlxxla "github.com/gomlx/gomlx/backends/xla"

// Arbor never downloads a plugin (gomlx would, by default, fetch one from GitHub or PyPI when
// none is installed): installing the plugin is the operator's job. gomlx reads
// GOMLX_NO_AUTO_INSTALL when its package initializes, before main could set it.
func init() { gomlxxla.EnableAutoInstall(false) }
