// Command nas searches for neural network architectures with reinforcement
// learning (Zoph & Le, 2017), trains them with ONNX Runtime and exports them as
// ONNX models. Run `nas help` for the commands.
package main

import "os"

func main() { os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr)) }
