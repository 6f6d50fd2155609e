// devstack does not run natively on Windows: it runs in WSL2, which is Linux, as is (README, "Windows:
// use WSL2", says why and how). This file makes a Windows build stop with one error that says so.
package main

func main() { devstack_runs_on_Windows_in_WSL2_see_README }
