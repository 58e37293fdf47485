/* postie: one program for the whole mail system. main() only hands over to
 * the command line (src/cli/cli.c). */
#include "cli/cli.h"

int
main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
