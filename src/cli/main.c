/* cli/main.c: the openlora command dispatcher. */
#include <stdio.h>
int main(int argc, char **argv) { (void)argc, (void)argv; puts("openlora"); return 0; }
